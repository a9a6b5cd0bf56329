// Package model holds the GraphQL types that are not domain types: the
// ones gqlgen generates (models_gen.go) and the few written here.
package model

import (
	"time"

	"memberbind/internal/member"
)

// SecurityInfo is a member's current binding as of the instant the member
// was read, so that its derived status agrees with the member's.
type SecurityInfo struct {
	*member.Binding
	AsOf time.Time
}
