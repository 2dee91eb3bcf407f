//! NSX + Kubernetes API simulator (being built under issue 3).
