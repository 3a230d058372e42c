//! Local gateway (see issue 2).
