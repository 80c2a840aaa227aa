"""The clinical core: sites, staff, patients, identities, consent, protocols, treatments, adverse events,
surgeries, who may see which site, and the audit trail (docs/architecture.md)."""
