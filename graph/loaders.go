package graph

import (
	"context"
	"time"

	"github.com/vikstrous/dataloadgen"

	"memberbind/internal/member"
)

// loaders batch the fields that follow a key, per request, so that a page
// of members costs a constant number of queries whatever its size.
type loaders struct {
	deliveries *dataloadgen.Loader[int64, *member.Delivery]
	sends      *dataloadgen.Loader[int64, []time.Time]
}

func newLoaders(svc member.Service) *loaders {
	wait := dataloadgen.WithWait(time.Millisecond)
	return &loaders{
		deliveries: dataloadgen.NewMappedLoader(svc.Deliveries, wait),
		sends:      dataloadgen.NewMappedLoader(svc.Sends, wait),
	}
}

func withLoaders(ctx context.Context, l *loaders) context.Context {
	return context.WithValue(ctx, loadersKey, l)
}

func loadersOf(ctx context.Context) *loaders {
	return ctx.Value(loadersKey).(*loaders)
}
