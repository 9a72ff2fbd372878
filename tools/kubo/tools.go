//go:build tools

// Package tools records the Kubo command as a dependency of this module.
package tools

import _ "github.com/ipfs/kubo/cmd/ipfs"
