//! What a Manager object becomes in Policy: its migration type, the Policy collection it lands
//! in, and the Policy `resource_type` it is given.

use plan_schema::mp::MigrationType;

use crate::model::{Kind, MpObject};

/// The migration type that imports `o`, or None when no request of its own carries it.
pub(crate) fn migration_type(o: &MpObject) -> Option<MigrationType> {
    use MigrationType as M;
    Some(match o.kind {
        Kind::LogicalRouter => match o.router_type() {
            Some("TIER0") => M::Tier0,
            Some("TIER1") => M::Tier1,
            _ => return None,
        },
        Kind::LogicalSwitch => M::LogicalSwitch,
        Kind::LogicalPort => M::LogicalPort,
        Kind::NatRule => M::Nat,
        Kind::IpBlock => M::Ipblock,
        Kind::IpBlockSubnet => M::IpblockSubnet,
        Kind::IpPool => M::Ippool,
        Kind::IpSet => M::IpSet,
        Kind::NsGroup => M::NsGroup,
        Kind::FirewallSection => M::DfwSection,
        Kind::Certificate => M::Certificate,
        Kind::LbService => M::LbService,
        Kind::LbVirtualServer => M::LbVirtualServer,
        Kind::LbPool => M::LbPool,
        Kind::LbMonitor => M::LbMonitor,
        Kind::LbAppProfile => M::LbApplicationProfile,
        Kind::LbPersistenceProfile => M::LbPersistenceProfile,
        Kind::LbClientSslProfile => M::LbClientSslProfile,
        Kind::SwitchingProfile => match o.resource_type.as_str() {
            "SpoofGuardSwitchingProfile" => M::SpoofguardProfiles,
            "MacManagementSwitchingProfile" => M::MacdiscoveryProfiles,
            "SwitchSecuritySwitchingProfile" => M::SegmentSecurityProfiles,
            "QosSwitchingProfile" => M::QosProfiles,
            "IpDiscoverySwitchingProfile" => M::IpdiscoveryProfiles,
            _ => return None,
        },
        // Carried by other requests: router ports and static routes by their Tier-1's
        // TIER1_LOGICAL_ROUTER_PORT entry, LB rules inline in their virtual server.
        Kind::LogicalRouterPort | Kind::StaticRoute | Kind::LbRule | Kind::LbServerSslProfile => {
            return None;
        }
    })
}

/// Where a promoted object lands in Policy (its parent's path is added by the request).
pub(crate) fn policy_collection(t: MigrationType) -> Option<&'static str> {
    use MigrationType as M;
    Some(match t {
        M::Ipblock => "/infra/ip-blocks",
        M::Ippool => "/infra/ip-pools",
        M::Tier0 => "/infra/tier-0s",
        M::Tier1 => "/infra/tier-1s",
        M::LogicalSwitch => "/infra/segments",
        M::IpSet | M::NsGroup => "/infra/domains/default/groups",
        M::DfwSection => "/infra/domains/default/security-policies",
        M::Certificate => "/infra/certificates",
        M::LbService => "/infra/lb-services",
        M::LbVirtualServer => "/infra/lb-virtual-servers",
        M::LbPool => "/infra/lb-pools",
        M::LbMonitor => "/infra/lb-monitor-profiles",
        M::LbApplicationProfile => "/infra/lb-app-profiles",
        M::LbPersistenceProfile => "/infra/lb-persistence-profiles",
        M::LbClientSslProfile => "/infra/lb-client-ssl-profiles",
        M::SpoofguardProfiles => "/infra/spoofguard-profiles",
        M::MacdiscoveryProfiles => "/infra/mac-discovery-profiles",
        M::SegmentSecurityProfiles => "/infra/segment-security-profiles",
        M::QosProfiles => "/infra/qos-profiles",
        M::IpdiscoveryProfiles => "/infra/ip-discovery-profiles",
        _ => return None,
    })
}

/// The Policy `resource_type` an imported object becomes (for update steps and reviewers).
pub(crate) fn policy_resource_type(t: MigrationType) -> &'static str {
    use MigrationType as M;
    match t {
        M::Ipblock => "IpAddressBlock",
        M::Ippool => "IpAddressPool",
        M::IpblockSubnet => "IpAddressPoolBlockSubnet",
        M::IppoolAllocation => "IpAddressAllocation",
        M::Tier0 => "Tier0",
        M::Tier1 => "Tier1",
        M::LogicalSwitch => "Segment",
        M::LogicalPort => "SegmentPort",
        M::Nat => "PolicyNatRule",
        M::IpSet | M::NsGroup => "Group",
        M::DfwSection => "SecurityPolicy",
        M::Certificate => "TlsCertificate",
        M::LbService => "LBService",
        M::LbVirtualServer => "LBVirtualServer",
        M::LbPool => "LBPool",
        M::LbMonitor => "LBMonitorProfile",
        M::LbApplicationProfile => "LBAppProfile",
        M::LbPersistenceProfile => "LBPersistenceProfile",
        M::LbClientSslProfile => "LBClientSslProfile",
        M::SpoofguardProfiles => "SpoofGuardProfile",
        M::MacdiscoveryProfiles => "MacDiscoveryProfile",
        M::SegmentSecurityProfiles => "SegmentSecurityProfile",
        M::QosProfiles => "QoSProfile",
        M::IpdiscoveryProfiles => "IPDiscoveryProfile",
        M::Tier1LogicalRouterPort | M::Tier0LogicalRouterPort | M::Tier0LogicalRouterConfig => {
            "Tier-router configuration"
        }
        M::DhcpServer => "DhcpServerConfig",
        M::MetadataProxy => "MetadataProxyConfig",
        M::Crl => "TlsCrl",
    }
}
