//! Domain vocabulary of Zorgkluis: identifiers, roles, actors and time.
//!
//! No I/O lives here. Input becomes one of these types at the edge ("parse, don't
//! validate"); past the edge a [`Bsn`] is valid by construction and never printed.
#![warn(missing_docs)]

pub mod bsn;
pub mod clock;
pub mod id;
pub mod registers;
pub mod role;

pub use bsn::{Bsn, BsnError};
pub use clock::{Clock, FixedClock, SystemClock};
pub use id::{IdError, ResourceId};
pub use registers::{Agb, Big, RegisterError, Ura};
pub use role::{Actor, FunctionalRole};
