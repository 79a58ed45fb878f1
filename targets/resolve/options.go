package resolve

import "github.com/scratchkit/scratchkit/internal/defaults"

// Defaults applied to zero fields of Options.
const (
	// DefaultMaxFileSize bounds each YAML file read: 16 MiB, far above any hand-written manifest
	// and a few times the largest generated bundles (CRDs), while keeping the parsed nodes of one
	// file to a few hundred MB at worst.
	DefaultMaxFileSize = 16 << 20
	// DefaultMaxAliasNodes bounds what a file's YAML aliases repeat, counted over the whole file:
	// the values every alias expands to where it is used, as a reader such as kubectl will expand
	// them. A few lines of nested aliases can otherwise stand for billions of values (an alias
	// bomb). It is the bound scratchkit.yaml has (config/load.MaxAliasNodes).
	DefaultMaxAliasNodes = 100_000
)

// Options bound what Parse and Read accept. The zero value takes the defaults.
type Options struct {
	// MaxFileSize is the largest file, in bytes. Default DefaultMaxFileSize.
	MaxFileSize int64
	// MaxAliasNodes is how many values a file's aliases may expand to in all. Default
	// DefaultMaxAliasNodes.
	MaxAliasNodes int
}

func (o Options) withDefaults() Options {
	o.MaxFileSize, o.MaxAliasNodes = defaults.Positive(o.MaxFileSize, DefaultMaxFileSize), defaults.Positive(o.MaxAliasNodes, DefaultMaxAliasNodes)
	return o
}
