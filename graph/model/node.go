package model

// Node is an object that Query.node finds by its id: a *Member, a
// *MemberEvent, a *member.Organization or a *member.APIKey. It has no
// methods, since the last two are the domain's types, which know nothing
// of the schema; gqlgen tells the types apart by a type switch.
type Node any
