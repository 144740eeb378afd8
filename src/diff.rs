//! Pure diff: (desired, actual, lockfile) -> Plan. No I/O.
