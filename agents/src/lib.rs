//! The analyst team: a Class 1 orchestrator, Class 2 departments and Class 3
//! tools, with the ports (traits) for the engines they use.
//!
//! Architecture invariant: this crate knows neither HTTP nor GraphQL. The
//! foundation only defines the departments; the pipeline fills them in.

mod department;

pub use department::Department;
