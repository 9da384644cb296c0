//! Generated protobuf and gRPC code, one module per proto package (each package has its own
//! `Empty`, so they must stay apart). The `.proto` sources are ours, in `proto/`.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `pb`: the Backend service we serve and the Storage / SystemView services the host serves.
pub mod pb {
    tonic::include_proto!("pb");
}

/// `logical`: identity messages, the plugin environment and the PluginVersion service.
pub mod logical {
    tonic::include_proto!("logical");
}

/// `plugin`: go-plugin's broker, controller and stdio services.
pub mod plugin {
    tonic::include_proto!("plugin");
}

/// `pluginutil.multiplexing`: declared for completeness; not served (one process per mount).
pub mod pluginutil {
    pub mod multiplexing {
        tonic::include_proto!("pluginutil.multiplexing");
    }
}
