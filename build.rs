//! Compiles our own `.proto` files with protox (pure Rust, no `protoc`) and generates the
//! tonic client and server code for every gRPC service the plugin serves or calls.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/pb/backend.proto",
        "proto/logical/identity.proto",
        "proto/logical/plugin.proto",
        "proto/logical/version.proto",
        "proto/plugin/broker.proto",
        "proto/plugin/controller.proto",
        "proto/plugin/stdio.proto",
        "proto/pluginutil/multiplexing.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
