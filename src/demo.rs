//! `staybase demo seed`: a realistic marketplace to try the product on and to benchmark:
//! hosts, guests, and listings spread over European cities with prices, amenities and some
//! blocked dates.

use uuid::Uuid;

use crate::{
    auth::password,
    authz::{AuthAction, Permit, PropertyAction, Role, Roles},
    availability::StayRules,
    db::{Db, Timestamp},
    error::ApiError,
    ids::{PropertyId, UserId},
    properties::{
        model::{AMENITIES, Listing, Location, Property, PropertyStatus, new_calendar_token},
        service as properties,
    },
    tenants::{Tenant, service as tenants},
    users::service::{self as users, Inserted, NewUser},
};

/// City, country and centre.
const CITIES: &[(&str, &str, f64, f64)] = &[
    ("Paris", "FR", 48.8566, 2.3522),
    ("Lyon", "FR", 45.7640, 4.8357),
    ("Nice", "FR", 43.7102, 7.2620),
    ("Bordeaux", "FR", 44.8378, -0.5792),
    ("Barcelona", "ES", 41.3874, 2.1686),
    ("Madrid", "ES", 40.4168, -3.7038),
    ("Seville", "ES", 37.3891, -5.9845),
    ("Lisbon", "PT", 38.7223, -9.1393),
    ("Porto", "PT", 41.1579, -8.6291),
    ("Rome", "IT", 41.9028, 12.4964),
    ("Florence", "IT", 43.7696, 11.2558),
    ("Venice", "IT", 45.4408, 12.3155),
    ("Berlin", "DE", 52.5200, 13.4050),
    ("Munich", "DE", 48.1351, 11.5820),
    ("Amsterdam", "NL", 52.3676, 4.9041),
    ("Vienna", "AT", 48.2082, 16.3738),
    ("Prague", "CZ", 50.0755, 14.4378),
    ("Copenhagen", "DK", 55.6761, 12.5683),
    ("Dubrovnik", "HR", 42.6507, 18.0944),
    ("Athens", "GR", 37.9838, 23.7275),
];

const KINDS: &[&str] = &[
    "Loft",
    "Studio",
    "Flat",
    "House",
    "Villa",
    "Cottage",
    "Townhouse",
    "Apartment",
];
const VIEWS: &[&str] = &[
    "by the river",
    "near the old town",
    "with a garden",
    "with a terrace",
    "by the sea",
    "under the roofs",
];

/// A deterministic pseudo-random sequence, so seeds are reproducible.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub struct Seeded {
    pub tenant: Tenant,
    /// The emails of the accounts made, hosts and guests.
    pub hosts: Vec<String>,
    pub guests: Vec<String>,
    pub properties: usize,
}

/// Seeds `properties` listings (and their hosts and some guests) into the tenant `slug`,
/// creating it if needed. Every seeded account has `password`.
pub async fn seed(
    db: &Db,
    slug: &str,
    properties: usize,
    password: &str,
) -> Result<Seeded, ApiError> {
    let tenant = match tenants::resolve_active(db, slug).await {
        Ok(tenant) => tenant,
        Err(ApiError::TenantNotFound) => {
            let name = format!("{} Stays", slug[..1].to_uppercase() + &slug[1..]);
            tenants::create(
                db,
                tenants::NewTenant {
                    slug,
                    name: &name,
                    test_mode: false,
                },
            )
            .await?
        }
        Err(other) => return Err(other),
    };
    let hash = password::hash(password.to_owned()).await?;
    let hosts = properties.div_ceil(20).max(1);
    let guests = 10;
    let mut random = Sequence(0x5eed ^ properties as u64);
    let now = Timestamp::now();
    let batch = format!("{}", Uuid::now_v7().simple());

    let mut host_ids = Vec::with_capacity(hosts);
    let (mut host_emails, mut guest_emails) = (Vec::new(), Vec::new());
    let mut tx = db.begin().await?;
    for n in 0..hosts + guests {
        let is_host = n < hosts;
        let email = if is_host {
            format!("host{n}.{}@demo.staybase.test", &batch[24..])
        } else {
            format!("guest{}.{}@demo.staybase.test", n - hosts, &batch[24..])
        };
        let roles = if is_host {
            Roles::new([Role::Host, Role::Guest])
        } else {
            Roles::new([Role::Guest])
        };
        let id = UserId(Uuid::now_v7());
        let inserted = users::insert(
            &mut tx,
            &Permit::for_operator(tenant.id, AuthAction::Register),
            NewUser {
                id,
                email: &email,
                email_normalized: &email,
                first_name: if is_host { "Demo host" } else { "Demo guest" },
                last_name: &format!("{n}"),
                phone_number: None,
                password_hash: &hash,
                roles: &roles,
                must_change_password: false,
                now,
            },
        )
        .await?;
        if let Inserted::EmailTaken = inserted {
            return Err(ApiError::internal("a demo email is taken"));
        }
        if is_host {
            host_ids.push(id);
            host_emails.push(email);
        } else {
            guest_emails.push(email);
        }
    }
    tx.commit().await?;

    // Batches keep each write transaction short.
    for chunk in (0..properties).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.begin().await?;
        for &n in chunk {
            let (city, country, lat, lng) = CITIES[random.below(CITIES.len() as u64) as usize];
            let kind = KINDS[random.below(KINDS.len() as u64) as usize];
            let view = VIEWS[random.below(VIEWS.len() as u64) as usize];
            let guests = 1 + random.below(8) as u32;
            let amenities: Vec<String> = AMENITIES
                .iter()
                .filter(|_| random.below(3) == 0)
                .map(|(code, _)| (*code).to_owned())
                .collect();
            let nightly = 4_000 + (random.below(400) as i64) * 100;
            let listing = Listing {
                name: format!("{kind} {view} #{n}"),
                description: format!(
                    "A {} {kind} {view} in {city}, for up to {guests}.",
                    if guests > 4 { "roomy" } else { "cosy" }
                ),
                location: Location {
                    address: format!("{} Demo Street", 1 + random.below(200)),
                    city: city.to_owned(),
                    country: country.to_owned(),
                    lat: lat + (random.unit() - 0.5) * 0.1,
                    lng: lng + (random.unit() - 0.5) * 0.1,
                },
                nightly_price: nightly,
                cleaning_fee: (random.below(6) as i64) * 1_000,
                weekend_price: (random.below(3) == 0).then_some(nightly + 2_000),
                weekly_discount_bps: (random.below(4) as u32) * 500,
                monthly_discount_bps: (random.below(4) as u32) * 1_000,
                max_guests: guests,
                bedrooms: Some(guests.div_ceil(2)),
                bathrooms: Some(1 + guests / 4),
                min_nights: 1 + random.below(3) as u32,
                max_nights: 30,
                amenities,
                status: if random.below(20) == 0 {
                    PropertyStatus::Draft
                } else {
                    PropertyStatus::Listed
                },
                booking_mode: None,
                rules: StayRules::default(),
                included_guests: None,
                extra_guest_fee: 0,
            };
            let property = Property {
                tenant_id: tenant.id,
                id: PropertyId(Uuid::now_v7()),
                owner_id: host_ids[n % host_ids.len()],
                currency: tenant.settings.currency.clone(),
                listing,
                rating_sum: 0,
                review_count: 0,
                ical_token: Some(new_calendar_token()),
                created_at: now,
                updated_at: now,
            };
            properties::insert_as_operator(
                &mut tx,
                &Permit::for_operator(tenant.id, PropertyAction::Create),
                &property,
            )
            .await?;
        }
        tx.commit().await?;
    }
    db.analyze(&["users", "properties", "property_amenities"])
        .await?;
    Ok(Seeded {
        tenant,
        hosts: host_emails,
        guests: guest_emails,
        properties,
    })
}
