package outbox

// WithBeforeMark sets the test hook that runs between publish acks and
// marking rows published.
func WithBeforeMark(cfg RelayConfig, fn func(seqs []int64) error) RelayConfig {
	cfg.beforeMark = fn
	return cfg
}
