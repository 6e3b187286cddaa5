package rundir

// DefaultFor exposes defaultFor to the tests.
var DefaultFor = defaultFor
