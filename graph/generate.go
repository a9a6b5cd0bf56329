package graph

// gqlgen reads gqlgen.yml at the top of the module, whose paths are
// relative to it. genpatch then rewrites some of gqlgen's calls in
// generated.go to the stand-ins of fieldset.go and plainfield.go.
//go:generate sh -c "cd .. && go tool gqlgen generate --config gqlgen.yml"
//go:generate go run ./genpatch generated.go
