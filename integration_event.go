package roman

// EventIntegrationEvents is the roman_events row an integration request
// (Sentry webhook, OpenTelemetry export) leaves: which release each of its
// items was attributed to and by which rule, and what could not be
// attributed and why. Its metadata lists the releases with their counts
// (deployment_id, service, environment, version, rule, errors, requests)
// and the unattributed items with their reasons.
const EventIntegrationEvents = "integration_events"
