//! The CPU backend: IR → Cranelift → native code; prange chunks on rayon.
