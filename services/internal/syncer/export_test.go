package syncer

// withDefaults returns a copy of c given its defaults.
func (c Config) withDefaults() Config {
	c.SetDefaults()
	return c
}
