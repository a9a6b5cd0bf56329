package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// openTraced opens the database through go-sql-driver/mysql wrapped by
// otelsql, which makes a span of each SQL statement. The wrapper hands
// the driver's errors back unchanged (errors.As finds *mysql.MySQLError,
// which mysqlErrorNumber relies on) and forwards CheckNamedValue and the
// context methods, so interpolateParams keeps sending each statement in
// one round trip.
//
// Spans are made only inside a traced operation (a request, a mail send):
// the worker's polls, every few seconds on every instance, would
// otherwise each be a trace of their own. The statement's text is on the
// span (placeholders, not values: the driver interpolates below the
// wrapper), its arguments are not: they hold emails and token hashes.
func openTraced(dsn string) (*sql.DB, error) {
	return otelsql.Open("mysql", dsn,
		otelsql.WithAttributes(attribute.String("db.system.name", "mysql")),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			OmitConnResetSession: true,
			OmitConnPrepare:      true,
			OmitRows:             true,
			OmitConnectorConnect: true,
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanContextFromContext(ctx).IsValid()
			},
		}),
	)
}

// traceParent is the W3C traceparent of the span in ctx, NULL without
// one: the outbox row keeps it, so that the worker's send links to the
// request that queued the mail.
func traceParent(ctx context.Context) sql.NullString {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	tp := carrier["traceparent"]
	return sql.NullString{String: tp, Valid: tp != ""}
}
