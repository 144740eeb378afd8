//! The state lockfile (SPEC 7): atomic read/write, and the apply lock.
