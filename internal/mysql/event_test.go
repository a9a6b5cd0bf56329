package mysql_test

import (
	"slices"
	"testing"

	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// TestEventsOfManyMembers: one read of several members' events gives each
// member its own newest events, as many as asked for, and nothing of a
// member of another organization.
func TestEventsOfManyMembers(t *testing.T) {
	t.Parallel()
	f := newSignInFixture(t)
	alice := f.bind("Alice", "alice@example.com")
	f.deliver()
	for range 3 {
		if _, err := f.st.ResendActivationLink(f.ctx, f.org.ID, "test", alice.ID); err != nil {
			t.Fatal(err)
		}
	}
	bob, err := f.st.CreateMember(f.ctx, f.org.ID, "test", member.TypeCreated, "Bob", "")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := f.st.CreateOrganization(f.ctx, "Globex", "en")
	if err != nil {
		t.Fatal(err)
	}
	frank := testenv.Bind(t, f.st, other.ID, "Frank", "frank@example.com")
	// Frank's id, asked for as if he were a member of Alice's organization.
	posing := &member.Member{ID: frank.ID, OrgID: f.org.ID}

	kinds := func(p *member.EventPage) []member.EventKind {
		var out []member.EventKind
		for _, e := range p.Events {
			out = append(out, e.Kind)
		}
		return out
	}
	two := 2
	q, err := member.NewPageQuery(&two, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := f.st.Events(f.ctx, []*member.Member{alice, bob, posing, alice}, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 3 {
		t.Fatalf("pages of %d members, want 3", len(pages))
	}
	a := pages[alice.ID]
	if got := kinds(a); len(got) != 2 || got[0] != member.EventLinkResent || got[1] != member.EventLinkResent || !a.HasNext {
		t.Errorf("Alice's page = %v (next %v), want two LINK_RESENT and a next page", got, a.HasNext)
	}
	if a.Events[0].ID <= a.Events[1].ID {
		t.Errorf("Alice's events are not newest first: %d, %d", a.Events[0].ID, a.Events[1].ID)
	}
	if got := kinds(pages[bob.ID]); len(got) != 1 || got[0] != member.EventCreated || pages[bob.ID].HasNext {
		t.Errorf("Bob's page = %v (next %v), want CREATED alone", got, pages[bob.ID].HasNext)
	}
	if p := pages[frank.ID]; len(p.Events) != 0 || p.HasNext {
		t.Errorf("another organization's member shows %v", kinds(p))
	}
	for id, p := range pages {
		for _, e := range p.Events {
			if e.MemberID != id {
				t.Errorf("member %d's page holds event %d of member %d", id, e.ID, e.MemberID)
			}
		}
	}

	// The next page, by the last event's id.
	q.After = a.Events[1].ID
	q.Size = 10
	pages, err = f.st.Events(f.ctx, []*member.Member{alice}, q)
	if err != nil {
		t.Fatal(err)
	}
	want := []member.EventKind{member.EventLinkResent, member.EventLinkSent, member.EventSubmitted, member.EventCreated}
	if got := kinds(pages[alice.ID]); !slices.Equal(got, want) || pages[alice.ID].HasNext {
		t.Errorf("Alice's next page = %v (next %v), want %v and no more", got, pages[alice.ID].HasNext, want)
	}
}
