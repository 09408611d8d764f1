"""vmx configuration: settings (config.toml), credentials (private file), profiles."""
