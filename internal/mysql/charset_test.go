package mysql_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// TestLatin1Server: on a database whose default character set is latin1,
// as on a server configured so, the migrations leave every table utf8mb4,
// and a member named 张伟 is created, bound and read back as written.
func TestLatin1Server(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.StoreAt(t, testenv.MySQLCharset(t, "latin1"), mysql.Options{})
	org, _, err := st.CreateOrganization(ctx, "北京示例有限公司", "zh-CN")
	if err != nil {
		t.Fatalf("create an organization with a Chinese name: %v", err)
	}
	m := testenv.Bind(t, st, org.ID, "张伟", "zhang.wei@example.com")
	if m, err = st.Member(ctx, org.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	if m.Name != "张伟" {
		t.Errorf("member name read back as %q", m.Name)
	}
	// Four bytes in UTF-8, beyond utf8mb3.
	if _, err := st.CreateMember(ctx, org.ID, "test", member.TypeCreated, "Wei 🐼", "财务部 🧾"); err != nil {
		t.Errorf("create a member with an emoji: %v", err)
	}
	if err := mysql.CheckCharset(ctx, st.DB()); err != nil {
		t.Errorf("after migrating: %v", err)
	}
}

// TestMigrateChecksCharset: a table that is not utf8mb4 stops Migrate
// (and so the start of the service) with an error that names it.
func TestMigrateChecksCharset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t, mysql.Options{})
	if _, err := st.DB().ExecContext(ctx, "CREATE TABLE legacy_notes (id BIGINT PRIMARY KEY, body VARCHAR(100)) DEFAULT CHARSET=latin1"); err != nil {
		t.Fatal(err)
	}
	err := mysql.Migrate(ctx, st.DB(), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "legacy_notes") || !strings.Contains(err.Error(), "utf8mb4") {
		t.Errorf("Migrate with a latin1 table: %v, want an error naming the table and utf8mb4", err)
	}
}
