// Package layout holds no code. Its test keeps the import rules of the
// README's "Layout" section: the domain (internal/member) imports only the
// standard library, adapters named after a technology do not import one
// another, and internal/testenv is imported by tests alone.
package layout
