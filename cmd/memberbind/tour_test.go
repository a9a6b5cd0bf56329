package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"memberbind/internal/testenv"
)

var activationLink = regexp.MustCompile(`https?://[^\s"<>]+/activate\?token=[A-Za-z0-9_-]+`)

// eventually polls cond until it holds, or fails the test saying what it
// waited for after within (testenv.Eventually for a yes-or-no condition).
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, within, what, func() error {
		if !cond() {
			return errors.New("not yet")
		}
		return nil
	})
}

// bindMember creates a member and binds alice's info to it, returning its id.
func bindMember(t *testing.T, base, key, name, email string) string {
	t.Helper()
	data := graphql(t, base, key, `mutation($name: String!) { createMember(input: {name: $name}) { member { id } } }`, map[string]any{"name": name})
	id := data["createMember"].(map[string]any)["member"].(map[string]any)["id"].(string)
	data = graphql(t, base, key, `mutation($id: ID!, $email: String!) { bindSecurityInfo(input: {memberId: $id, email: $email, countryCode: "+86", phone: "138 0013 8000"}) {
		member { bindStatus } userErrors { code message } } }`, map[string]any{"id": id, "email": email})
	if errs := data["bindSecurityInfo"].(map[string]any)["userErrors"].([]any); len(errs) > 0 {
		t.Fatalf("bind: %v", errs)
	}
	return id
}

func memberState(t *testing.T, base, key, id string) map[string]any {
	t.Helper()
	data := graphql(t, base, key, `query($id: ID!) { member(id: $id) { bindStatus loginEmail removal { allowed }
		securityInfo { linkSentAt delivery { status } } } }`, map[string]any{"id": id})
	return data["member"].(map[string]any)
}

// TestZeroConfigTour is the README's tour on the zero-configuration start:
// nothing set, bind a member, read the mail at /dev/mail, open the link,
// confirm, see ACTIVATED.
func TestZeroConfigTour(t *testing.T) {
	t.Parallel()
	inst := serveFor(t, map[string]string{})
	out := inst.Output.String()
	m := regexp.MustCompile(`API key:\s+(mb_\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "/playground#key="+m[1]) || !strings.Contains(out, "/dev/mail") || !strings.Contains(out, "in memory") {
		t.Fatalf("start-up message lacks the key, the signed-in playground URL, the mailbox or the in-memory warning:\n%s", out)
	}
	if !strings.Contains(out, "development mode, loopback only") {
		t.Errorf("start-up message does not say it is development mode on loopback:\n%s", out)
	}
	key := m[1]
	id := bindMember(t, inst.URL, key, "Alice", "alice@example.com")

	var link string
	eventually(t, 10*time.Second, "activation mail at /dev/mail", func() bool {
		req, _ := http.NewRequest(http.MethodGet, inst.URL+"/dev/mail", nil)
		req.Header.Set("Accept", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var box struct{ Messages []struct{ Text, HTML string } }
		if json.NewDecoder(res.Body).Decode(&box) != nil || len(box.Messages) == 0 {
			return false
		}
		link = activationLink.FindString(box.Messages[0].Text)
		return link != "" && strings.Contains(box.Messages[0].HTML, strings.ReplaceAll(link, "&", "&amp;"))
	})
	// The worker records accepted mail in batches, just after the SMTP
	// server has it.
	eventually(t, 10*time.Second, "linkSentAt set once the mail is delivered", func() bool {
		return memberState(t, inst.URL, key, id)["securityInfo"].(map[string]any)["linkSentAt"] != nil
	})

	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || memberState(t, inst.URL, key, id)["bindStatus"] != "PENDING" {
		t.Fatalf("opening the link: %d, and it must change nothing", res.StatusCode)
	}
	token := link[strings.Index(link, "token=")+len("token="):]
	res, err = http.PostForm(inst.URL+"/activate", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d", res.StatusCode)
	}
	s := memberState(t, inst.URL, key, id)
	if s["bindStatus"] != "ACTIVATED" || s["loginEmail"] != "alice@example.com" || s["removal"].(map[string]any)["allowed"] != true {
		t.Errorf("after confirming: %v", s)
	}
}

// TestActivationInBrowser is a member's path on a real deployment: the
// mail from Mailpit, the link opened in Chromium, Confirm clicked.
func TestActivationInBrowser(t *testing.T) {
	t.Parallel()
	mailpit := testenv.Mailpit(t)
	dsn := testenv.MySQL(t)
	key := orgCreate(t, dsn, "Acme")
	inst := serveFor(t, map[string]string{"MEMBERBIND_DATABASE_DSN": dsn, "MEMBERBIND_SMTP_URL": mailpit.SMTPURL})
	id := bindMember(t, inst.URL, key, "Alice", "alice@example.com")

	msgs := mailpit.WaitMessages(t, 1, 10*time.Second)
	msg := mailpit.Message(t, msgs[0].ID)
	link := activationLink.FindString(msg.Text)
	if link == "" || !strings.Contains(msg.HTML, link) {
		t.Fatalf("no activation link in both parts:\ntext: %s", msg.Text)
	}

	tab := testenv.Tab(t, testenv.Browser(t))
	dir := testenv.ArtifactDir(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		testenv.SaveArtifact(t, dir, name, png)
	}
	submit := chromedp.CSS(`button[type="submit"]`)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(390, 844), chromedp.Navigate(link), chromedp.WaitVisible(submit)); err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	shot("tour-confirm.png")
	if !strings.Contains(page, "alice@example.com") || !strings.Contains(page, "Acme") {
		t.Errorf("confirm page does not show the email and organization:\n%s", page)
	}
	if s := memberState(t, inst.URL, key, id); s["bindStatus"] != "PENDING" {
		t.Fatalf("opening the link changed the member: %v", s)
	}
	if err := chromedp.Do(tab, chromedp.Click(submit), chromedp.WaitNotPresent(submit)); err != nil {
		t.Fatal(err)
	}
	if page, err = chromedp.Run(tab, chromedp.Text(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	shot("tour-activated.png")
	s := memberState(t, inst.URL, key, id)
	if s["bindStatus"] != "ACTIVATED" || s["loginEmail"] != "alice@example.com" {
		t.Errorf("after Confirm: %v\npage: %s", s, page)
	}
	fmt.Fprintln(testWriter{t}, "screenshots in", dir)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
