//! Source text → tokens. (Written with the parser.)
