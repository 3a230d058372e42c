//! Test support: emulator and database helpers.
