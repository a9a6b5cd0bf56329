package metrics

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestOperationNamesAreBounded: clients choose operation names; past
// MaxOperations distinct ones they share one label value, while names
// already seen keep theirs.
func TestOperationNamesAreBounded(t *testing.T) {
	r := New(Options{})
	for i := range MaxOperations + 50 {
		r.GraphQLOperation(fmt.Sprintf("Op%d", i), true)
	}
	r.GraphQLOperation("Op0", false)
	r.GraphQLOperation("", true)
	if n := testutil.CollectAndCount(r.operations); n != MaxOperations+3 { // + other, Op0 error, anonymous
		t.Errorf("%d series, want %d", n, MaxOperations+3)
	}
	if v := testutil.ToFloat64(r.operations.WithLabelValues(OtherOperation, "ok")); v != 50 {
		t.Errorf("other = %v, want 50", v)
	}
	if v := testutil.ToFloat64(r.operations.WithLabelValues("Op0", "error")); v != 1 {
		t.Errorf("Op0 error = %v, want 1", v)
	}
}
