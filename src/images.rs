//! Bounded image decoding for uploads (listing photos, profile pictures): the header is read
//! first and an image whose pixels would take more than `MAX_DECODED_BYTES` is refused before
//! anything is allocated for them; every decode runs under the image crate's `Limits`, on the
//! blocking pool, at most `CONCURRENT_DECODES` at a time in the process.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat as Codec, ImageReader, Limits};
use tokio::sync::Semaphore;

use crate::{error::ApiError, storage::ImageFormat};

/// The most memory one decoded image may take (its declared width x height x bytes per
/// pixel): 16 megapixels in RGBA, 22 in RGB. Also the `max_alloc` of every decode.
pub const MAX_DECODED_BYTES: u64 = 64 * 1024 * 1024;
/// The longest side accepted, in pixels, whatever the memory it needs.
pub const MAX_SIDE: u32 = 16_384;
/// Decodes running at once in this process; others wait for a permit.
pub const CONCURRENT_DECODES: usize = 2;

static DECODES: Semaphore = Semaphore::const_new(CONCURRENT_DECODES);

const MIB: u64 = 1024 * 1024;

/// What an image's header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// What its decoded pixels take.
    pub decoded_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("The file is not a JPEG, PNG or WebP image.")]
    NotAnImage,
    #[error(
        "must decode to at most {} MiB of pixels (at most {MAX_SIDE} pixels a side); \
         this {width}x{height} image needs {} MiB",
        MAX_DECODED_BYTES / MIB,
        decoded_bytes.div_ceil(MIB)
    )]
    TooLarge {
        width: u32,
        height: u32,
        decoded_bytes: u64,
    },
    #[error("The image could not be decoded: {0}.")]
    Undecodable(String),
}

impl ImageError {
    /// 422 naming `field` when the image is too large, 415 when it is not a readable image.
    pub fn for_field(self, field: &str) -> ApiError {
        match self {
            Self::TooLarge { .. } => ApiError::validation(field, self.to_string()),
            Self::NotAnImage | Self::Undecodable(_) => {
                ApiError::UnsupportedMediaType(self.to_string())
            }
        }
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    limits
}

type Reader<'a> = ImageReader<Cursor<&'a [u8]>>;

fn reader(bytes: &[u8]) -> Result<(Reader<'_>, ImageFormat), ImageError> {
    let format = ImageFormat::sniff(bytes).ok_or(ImageError::NotAnImage)?;
    let codec = match format {
        ImageFormat::Jpeg => Codec::Jpeg,
        ImageFormat::Png => Codec::Png,
        ImageFormat::Webp => Codec::WebP,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), codec);
    reader.limits(limits());
    Ok((reader, format))
}

fn header_of(decoder: &impl ImageDecoder, format: ImageFormat) -> Result<Header, ImageError> {
    let (width, height) = decoder.dimensions();
    let header = Header {
        format,
        width,
        height,
        decoded_bytes: decoder.total_bytes(),
    };
    if header.decoded_bytes > MAX_DECODED_BYTES || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::TooLarge {
            width,
            height,
            decoded_bytes: header.decoded_bytes,
        });
    }
    Ok(header)
}

fn unreadable(err: image::ImageError) -> ImageError {
    match err {
        image::ImageError::Limits(_) => {
            ImageError::Undecodable("it exceeds the decoding limits".into())
        }
        _ => ImageError::Undecodable(err.to_string()),
    }
}

/// Reads the header alone: the format by content, the dimensions and the decoded size, refused
/// over the limits. Cheap: no pixel is decoded.
pub fn inspect(bytes: &[u8]) -> Result<Header, ImageError> {
    let (reader, format) = reader(bytes)?;
    let decoder = reader.into_decoder().map_err(unreadable)?;
    header_of(&decoder, format)
}

/// Decodes an image after checking its header, under the decoding limits. Blocking: call it
/// inside `bounded`.
pub fn decode(bytes: &[u8]) -> Result<(Header, DynamicImage), ImageError> {
    let header = inspect(bytes)?;
    let (reader, _) = reader(bytes)?;
    let image = reader.decode().map_err(unreadable)?;
    Ok((header, image))
}

/// Runs `work` (which decodes) on the blocking pool once one of the process's decode permits
/// is free.
pub async fn bounded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = DECODES
        .acquire()
        .await
        .map_err(|err| ApiError::internal(err.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::internal(err.to_string()))
}

/// Encodes as JPEG or, for an image with transparency, PNG. Only the pixels are written, so
/// no metadata block of the upload survives.
pub fn encode(image: &DynamicImage) -> Result<(ImageFormat, Vec<u8>), ImageError> {
    if image.color().has_alpha() {
        let bytes = write(&DynamicImage::from(image.to_rgba8()), Codec::Png)?;
        Ok((ImageFormat::Png, bytes))
    } else {
        Ok((ImageFormat::Jpeg, encode_jpeg(image)?))
    }
}

/// Encodes as JPEG, dropping any alpha channel and every metadata block.
pub fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, ImageError> {
    write(&DynamicImage::from(image.to_rgb8()), Codec::Jpeg)
}

fn write(image: &DynamicImage, codec: Codec) -> Result<Vec<u8>, ImageError> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, codec)
        .map_err(|err| ImageError::Undecodable(format!("encoding failed: {err}")))?;
    Ok(out.into_inner())
}
