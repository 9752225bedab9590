//! The IR pretty-printer behind `kiln emit --target ir`. (Written with the checker.)
