// Array expressions never mix element types, as the kernel language: an
// f32 array plus an f64 array is a Rust type error pointing at `.cast`.
use kiln::Array;

fn main() {
    let x = Array::from(vec![1.0f32; 4]);
    let y = Array::from(vec![1.0f64; 4]);
    let _ = &x + &y;
}
