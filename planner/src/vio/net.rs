//! IP addresses, CIDRs and ranges as the VIO checks compare them (IPv4 and IPv6 in one form).

use std::net::IpAddr;

/// An address as a number, with its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Addr {
    pub v6: bool,
    pub value: u128,
}

impl Addr {
    pub fn parse(s: &str) -> Option<Addr> {
        match s.trim().parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => Some(Addr {
                v6: false,
                value: u32::from(a) as u128,
            }),
            IpAddr::V6(a) => Some(Addr {
                v6: true,
                value: u128::from(a),
            }),
        }
    }
}

/// An inclusive address range of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub v6: bool,
    pub first: u128,
    pub last: u128,
}

impl Range {
    pub fn new(first: Addr, last: Addr) -> Option<Range> {
        (first.v6 == last.v6 && first.value <= last.value).then_some(Range {
            v6: first.v6,
            first: first.value,
            last: last.value,
        })
    }

    pub fn overlaps(&self, other: &Range) -> bool {
        self.v6 == other.v6 && self.first <= other.last && other.first <= self.last
    }

    pub fn contains(&self, a: Addr) -> bool {
        self.v6 == a.v6 && self.first <= a.value && a.value <= self.last
    }
}

/// `address/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub range: Range,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.trim().split_once('/')?;
        let addr = Addr::parse(a)?;
        let prefix: u8 = p.trim().parse().ok()?;
        Cidr::from_parts(addr, prefix)
    }

    pub fn from_parts(addr: Addr, prefix: u8) -> Option<Cidr> {
        let bits: u32 = if addr.v6 { 128 } else { 32 };
        if u32::from(prefix) > bits {
            return None;
        }
        let host_bits = bits - u32::from(prefix);
        let mask: u128 = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let first = addr.value & !mask;
        Some(Cidr {
            range: Range {
                v6: addr.v6,
                first,
                last: first | mask,
            },
            prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_ranges() {
        let transit = Cidr::parse("100.64.0.0/16").unwrap();
        assert!(
            transit
                .range
                .contains(Addr::parse("100.64.255.255").unwrap())
        );
        assert!(!transit.range.contains(Addr::parse("100.65.0.0").unwrap()));
        let pool = Range::new(
            Addr::parse("100.63.255.250").unwrap(),
            Addr::parse("100.64.0.1").unwrap(),
        )
        .unwrap();
        assert!(pool.overlaps(&transit.range));
        assert!(
            !Cidr::parse("10.0.0.0/8")
                .unwrap()
                .range
                .overlaps(&transit.range)
        );
        assert!(!Cidr::parse("::/0").unwrap().range.overlaps(&transit.range));
        assert_eq!(Cidr::parse("fd00::/8").unwrap().prefix, 8);
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0.0").is_none());
        assert!(
            Range::new(
                Addr::parse("10.0.0.2").unwrap(),
                Addr::parse("10.0.0.1").unwrap()
            )
            .is_none()
        );
    }
}
