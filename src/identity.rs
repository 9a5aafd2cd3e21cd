//! Who this instance is: configuration first, then what instance metadata says, then the
//! original app's laptop defaults (`vm`-style host name, `127.0.0.1`, `local`).

use crate::config::AppConfig;

/// What instance metadata (IMDSv2) reported; every field may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceMetadata {
    pub instance_id: Option<String>,
    pub local_ipv4: Option<String>,
    pub availability_zone: Option<String>,
    pub region: Option<String>,
    pub instance_type: Option<String>,
    pub ami_id: Option<String>,
    /// From the instance's `aws:autoscaling:groupName` tag, when metadata tags are on.
    pub autoscaling_group: Option<String>,
}

/// The resolved identity, shown in responses, headers, logs and metric dimensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppInfo {
    pub version: String,
    pub environment: String,
    pub hostname: String,
    pub instance_id: String,
    pub instance_ip: String,
    pub availability_zone: String,
    pub region: Option<String>,
    pub instance_type: Option<String>,
    pub ami_id: Option<String>,
    pub autoscaling_group: Option<String>,
}

impl AppInfo {
    /// Configuration wins over metadata, which wins over the defaults.
    pub fn resolve(app: &AppConfig, region: Option<&str>, found: &InstanceMetadata) -> Self {
        let pick = |configured: &Option<String>, found: &Option<String>, default: &str| {
            configured
                .clone()
                .or_else(|| found.clone())
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            version: app.version.clone(),
            environment: app.environment.clone(),
            hostname: app.hostname.clone(),
            instance_id: pick(&app.instance_id, &found.instance_id, &app.hostname),
            instance_ip: pick(&app.instance_ip, &found.local_ipv4, "127.0.0.1"),
            availability_zone: pick(&app.availability_zone, &found.availability_zone, "local"),
            region: region.map(str::to_owned).or_else(|| found.region.clone()),
            instance_type: found.instance_type.clone(),
            ami_id: found.ami_id.clone(),
            autoscaling_group: app
                .autoscaling_group
                .clone()
                .or_else(|| found.autoscaling_group.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(instance_id: Option<&str>) -> AppConfig {
        AppConfig {
            version: "1".into(),
            environment: "dev".into(),
            hostname: "host".into(),
            instance_id: instance_id.map(str::to_owned),
            instance_ip: None,
            availability_zone: None,
            autoscaling_group: None,
        }
    }

    #[test]
    fn configuration_then_metadata_then_defaults() {
        let found = InstanceMetadata {
            instance_id: Some("i-0abc".into()),
            local_ipv4: Some("10.0.10.5".into()),
            availability_zone: Some("eu-north-1a".into()),
            region: Some("eu-north-1".into()),
            autoscaling_group: Some("asg".into()),
            ..InstanceMetadata::default()
        };
        let on_ec2 = AppInfo::resolve(&app(None), None, &found);
        assert_eq!(on_ec2.instance_id, "i-0abc");
        assert_eq!(on_ec2.instance_ip, "10.0.10.5");
        assert_eq!(on_ec2.availability_zone, "eu-north-1a");
        assert_eq!(on_ec2.region.as_deref(), Some("eu-north-1"));
        assert_eq!(on_ec2.autoscaling_group.as_deref(), Some("asg"));

        let overridden = AppInfo::resolve(&app(Some("i-env")), Some("us-east-1"), &found);
        assert_eq!(overridden.instance_id, "i-env");
        assert_eq!(overridden.region.as_deref(), Some("us-east-1"));

        let laptop = AppInfo::resolve(&app(None), None, &InstanceMetadata::default());
        assert_eq!(laptop.instance_id, "host");
        assert_eq!(laptop.instance_ip, "127.0.0.1");
        assert_eq!(laptop.availability_zone, "local");
    }
}
