kiln::kernels!("no/such/file.kn");

fn main() {}
