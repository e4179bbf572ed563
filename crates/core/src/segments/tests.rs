//! Unit tests of the segment language.
