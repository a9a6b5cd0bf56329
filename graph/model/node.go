package model

// Node is an object that Query.node finds by its id: a *Member, a
// *MemberEvent or a *member.Organization. It has no methods, since the
// organization is the domain's type, which knows nothing of the schema;
// gqlgen tells the types apart by a type switch.
type Node any
