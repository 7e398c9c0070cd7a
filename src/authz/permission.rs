//! Permissions as types: each resource has an enum of its actions (with their scope: `own`,
//! `hosted`, `any`), and `Permission` is any of them. The strings of `policies/policy.csv` and
//! of tenant rules are parsed into these once; a test keeps the two in step.

use std::fmt;

/// The actions of one resource kind (the Casbin object).
pub trait Action: Copy + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The object in policy lines, e.g. `bookings`.
    const OBJECT: &'static str;
    /// The action in policy lines, e.g. `cancel:own`.
    fn as_str(self) -> &'static str;
    fn permission(self) -> Permission;
}

macro_rules! actions {
    ($(
        $(#[$doc:meta])*
        $name:ident for $object:literal as $variant:ident {
            $($(#[$action_doc:meta])* $action:ident => $text:literal,)+
        }
    )+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub enum $name {
                $($(#[$action_doc])* $action,)+
            }

            impl $name {
                pub const ALL: &'static [Self] = &[$(Self::$action,)+];
            }

            impl Action for $name {
                const OBJECT: &'static str = $object;

                fn as_str(self) -> &'static str {
                    match self {
                        $(Self::$action => $text,)+
                    }
                }

                fn permission(self) -> Permission {
                    Permission::$variant(self)
                }
            }
        )+

        /// Something a role may be allowed to do: a resource kind and one of its actions.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Permission {
            $($variant($name),)+
        }

        impl Permission {
            /// The object and action of a policy line.
            pub fn parts(self) -> (&'static str, &'static str) {
                match self {
                    $(Self::$variant(action) => ($object, action.as_str()),)+
                }
            }

            /// Every permission there is.
            pub fn all() -> impl Iterator<Item = Permission> {
                std::iter::empty()
                    $(.chain($name::ALL.iter().map(|action| action.permission())))+
            }
        }
    };
}

actions! {
    /// The marketplace's public profile.
    TenantAction for "tenant" as Tenant {
        Read => "read",
    }
    /// Signing up and in, sessions, email verification and password reset.
    AuthAction for "auth" as Auth {
        /// Creating an account (sign-up; operators creating a tenant's admin act with it too).
        Register => "register",
        Login => "login",
        Refresh => "refresh",
        Logout => "logout",
        VerifyEmail => "verify_email",
        PasswordReset => "password_reset",
    }
    /// Other people's accounts.
    UserAction for "users" as Users {
        ReadPublic => "read_public",
        ListAny => "list:any",
        UpdateAny => "update:any",
    }
    /// One's own account.
    ProfileAction for "profile" as Profile {
        ReadOwn => "read:own",
        UpdateOwn => "update:own",
    }
    /// Listings, their calendars and photos.
    PropertyAction for "properties" as Properties {
        /// Listed properties, as anyone sees them.
        Read => "read",
        Create => "create",
        ReadOwn => "read:own",
        ReadAny => "read:any",
        UpdateOwn => "update:own",
        UpdateAny => "update:any",
        DeleteOwn => "delete:own",
        DeleteAny => "delete:any",
    }
    /// The tenant's settings.
    SettingsAction for "settings" as Settings {
        Read => "read",
        Update => "update",
    }
    /// Integrator API keys.
    ApiKeyAction for "api_keys" as ApiKeys {
        Create => "create",
        List => "list",
        Delete => "delete",
    }
    /// The tenant's own authorization rules.
    PolicyAction for "policies" as Policies {
        List => "list",
        Create => "create",
        Delete => "delete",
    }
    /// The tenant's payment provider and its credentials.
    PaymentProviderAction for "payment_provider" as PaymentProvider {
        Read => "read",
        Update => "update",
    }
    /// A test tenant's clock.
    TestClockAction for "test_clock" as TestClock {
        Read => "read",
        Advance => "advance",
    }
    /// Bookings: a guest's own, a host's (of the properties they own), or any of the tenant's.
    BookingAction for "bookings" as Bookings {
        Create => "create",
        ReadOwn => "read:own",
        ReadHosted => "read:hosted",
        ReadAny => "read:any",
        CancelOwn => "cancel:own",
        CancelHosted => "cancel:hosted",
        CancelAny => "cancel:any",
        RespondHosted => "respond:hosted",
        RespondAny => "respond:any",
    }
    /// Payments: a guest pays for and sees their own; a host sees those of their properties'
    /// bookings; tenant admins see any and refund.
    PaymentAction for "payments" as Payments {
        CreateOwn => "create:own",
        ReadOwn => "read:own",
        ReadHosted => "read:hosted",
        ReadAny => "read:any",
        ConfirmOwn => "confirm:own",
        RefundAny => "refund:any",
    }
    /// Hosts' payouts.
    PayoutAction for "payouts" as Payouts {
        ReadHosted => "read:hosted",
        ReadAny => "read:any",
        MarkPaidAny => "mark_paid:any",
    }
    /// Reviews of properties: anyone reads the published ones; guests review their stays and
    /// edit or delete their own; hosts reply to those of their properties; tenant admins
    /// delete, hide and unhide any.
    ReviewAction for "reviews" as Reviews {
        Read => "read",
        CreateOwn => "create:own",
        UpdateOwn => "update:own",
        DeleteOwn => "delete:own",
        DeleteAny => "delete:any",
        ReplyHosted => "reply:hosted",
        ModerateAny => "moderate:any",
    }
    /// The tenant's WebAssembly plugins, which tenant admins upload, try and activate.
    PluginAction for "plugins" as Plugins {
        Create => "create",
        Read => "read",
        Activate => "activate",
        DryRun => "dry_run",
        Delete => "delete",
    }
    /// Hosts' reviews of their guests: written by the host of a stay, read by hosts and
    /// tenant admins.
    GuestReviewAction for "guest_reviews" as GuestReviews {
        CreateHosted => "create:hosted",
        Read => "read",
    }
}

impl Permission {
    /// The permission a policy line's object and action name, if any.
    pub fn parse(object: &str, action: &str) -> Option<Self> {
        Self::all().find(|permission| permission.parts() == (object, action))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (object, action) = self.parts();
        write!(f, "{object}:{action}")
    }
}

impl PropertyAction {
    /// The actions that allow changing a listing, its calendar or its photos.
    pub const CHANGES: &'static [Self] = &[Self::UpdateOwn, Self::UpdateAny];
    pub const DELETES: &'static [Self] = &[Self::DeleteOwn, Self::DeleteAny];
}

impl BookingAction {
    /// The actions that move a booking to another status.
    pub const MOVES: &'static [Self] = &[
        Self::CancelOwn,
        Self::CancelHosted,
        Self::CancelAny,
        Self::RespondHosted,
        Self::RespondAny,
    ];
}

impl ReviewAction {
    /// The actions that write a review or the rating aggregates it counts in.
    pub const WRITES: &'static [Self] = &[
        Self::CreateOwn,
        Self::UpdateOwn,
        Self::DeleteOwn,
        Self::DeleteAny,
        Self::ReplyHosted,
        Self::ModerateAny,
    ];
}

/// Which of two scoped actions applies: the one for the caller's own target, or the
/// tenant-wide one.
pub fn own_or_any<A: Action>(own: bool, (own_action, any_action): (A, A)) -> A {
    if own { own_action } else { any_action }
}

/// The actions under which an account row may be written: signing up or recovering it
/// (`auth`), editing one's own (`profile`), or administering others' (`users`).
pub trait AccountAction: Action {}

impl AccountAction for AuthAction {}
impl AccountAction for ProfileAction {}
impl AccountAction for UserAction {}
