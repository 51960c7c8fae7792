// Package jiangcheng is a small client for jiangcheng's v1 API on the Go standard library alone.
//
// Copy it into your platform. It covers the bearer key (read from the environment, never written
// in code), connect and request timeouts, retries of 429 and 503 answers that honour
// Retry-After, and problem+json errors as a typed error.
package jiangcheng

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// jitter spreads retries: seeded per process (math/rand's global source is not, before Go 1.20),
// and locked because a rand.Rand is not safe for goroutines.
var jitter = struct {
	sync.Mutex
	*rand.Rand
}{Rand: rand.New(rand.NewSource(time.Now().UnixNano()))}

// FieldError is one field a 400 answer names, with what is wrong with it in plain words.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// APIError is an answer other than 2xx, read from its problem+json body.
type APIError struct {
	Status     int           `json:"status"`
	Code       string        `json:"code"`
	Title      string        `json:"title"`
	Detail     string        `json:"detail"`
	Errors     []FieldError  `json:"errors"`
	RetryAfter time.Duration `json:"-"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail)
}

// Client calls one jiangcheng service; it may be shared by goroutines.
//
// A 429 or 503 is retried up to MaxAttempts in all, after the whole seconds its Retry-After asks
// plus up to half a second of jitter (so that refused clients do not come back in step); one
// that asks for more than MaxRetryWait is returned at once.
type Client struct {
	BaseURL      string
	Key          string
	HTTP         *http.Client
	MaxAttempts  int
	MaxRetryWait time.Duration
}

// FromEnvironment reads JC_URL (default http://127.0.0.1:8080) and JC_KEY: 2 s to connect,
// 10 s for the whole request, 4 attempts, waits of at most 10 s.
func FromEnvironment() *Client {
	base := os.Getenv("JC_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	transport := &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}
	return &Client{
		BaseURL:      strings.TrimRight(base, "/"),
		Key:          os.Getenv("JC_KEY"),
		HTTP:         &http.Client{Transport: transport, Timeout: 10 * time.Second},
		MaxAttempts:  4,
		MaxRetryWait: 10 * time.Second,
	}
}

// Subject is whom a decision is about.
type Subject struct {
	ID     string `json:"id"`
	IDType string `json:"id_type,omitempty"`
}

// Reason is one measure that applied, with the entry that made it apply.
type Reason struct {
	Topic   string `json:"topic"`
	List    string `json:"list"`
	EntryID string `json:"entry_id"`
	Measure string `json:"measure"`
	Effect  string `json:"effect"`
}

// Decision is allow, flag or block, with its reasons (the fields an integrator reads first).
type Decision struct {
	DecisionID    string   `json:"decision_id"`
	Decision      string   `json:"decision"`
	DecisionLabel string   `json:"decision_label"`
	Matter        string   `json:"matter"`
	Reasons       []Reason `json:"reasons"`
}

// BatchItem is one subject's decision, or why its identifier was refused.
type BatchItem struct {
	Decision
	Error *struct {
		Code   string `json:"code"`
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"error"`
}

// Batch is a screening's results, in the order asked, and their counts.
type Batch struct {
	Results []BatchItem    `json:"results"`
	Summary map[string]int `json:"summary"`
}

// Profile is a subject's entries, with their windows, states and disputes.
type Profile struct {
	Subject struct {
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		KindLabel string `json:"kind_label"`
	} `json:"subject"`
	Entries []struct {
		EntryID    string `json:"entry_id"`
		List       string `json:"list"`
		State      string `json:"state"`
		ListedOn   string `json:"listed_on"`
		ValidUntil string `json:"valid_until"`
		Dispute    string `json:"dispute"`
	} `json:"entries"`
}

// Decide asks one decision.
func (c *Client) Decide(ctx context.Context, subjectID, matter string) (*Decision, error) {
	var decision Decision
	body := map[string]any{"subject": Subject{ID: subjectID}, "matter": matter}
	return &decision, c.call(ctx, http.MethodPost, "/v1/decide", body, &decision)
}

// DecideBatch screens many subjects (bidders) in one matter.
func (c *Client) DecideBatch(ctx context.Context, matter string, subjectIDs []string) (*Batch, error) {
	subjects := make([]Subject, len(subjectIDs))
	for i, id := range subjectIDs {
		subjects[i] = Subject{ID: id}
	}
	var batch Batch
	body := map[string]any{"matter": matter, "subjects": subjects}
	return &batch, c.call(ctx, http.MethodPost, "/v1/decide/batch", body, &batch)
}

// SubjectProfile reads a subject's profile.
func (c *Client) SubjectProfile(ctx context.Context, subjectID string) (*Profile, error) {
	var profile Profile
	return &profile, c.call(ctx, http.MethodGet, "/v1/subjects/"+url.PathEscape(subjectID), nil, &profile)
}

// call sends the request, retrying 429 and 503. Every call here only reads (a decision reads
// the lists and leaves a register record), and a 429 or 503 is given before anything is done,
// so retrying cannot repeat an effect. Every other 4xx is the request's own fault.
func (c *Client) call(ctx context.Context, method, path string, body, into any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, method, path, payload, into)
		apiErr, ok := err.(*APIError)
		if !ok || (apiErr.Status != http.StatusTooManyRequests && apiErr.Status != http.StatusServiceUnavailable) ||
			attempt >= c.MaxAttempts || apiErr.RetryAfter > c.MaxRetryWait {
			return err
		}
		jitter.Lock()
		wait := apiErr.RetryAfter + time.Duration(jitter.Int63n(int64(500*time.Millisecond)))
		jitter.Unlock()
		log.Printf("retry %d/%d after %d %s: waiting %.1f s", attempt, c.MaxAttempts-1, apiErr.Status, apiErr.Code, wait.Seconds())
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Client) once(ctx context.Context, method, path string, payload []byte, into any) error {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	request, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return err
	}
	request.Header.Set("Accept", "application/json")
	request.Header.Set("Accept-Language", "zh-CN,en;q=0.8")
	if c.Key != "" {
		request.Header.Set("Authorization", "Bearer "+c.Key)
	}
	if payload != nil {
		request.Header.Set("Content-Type", "application/json")
	}
	answer, err := c.HTTP.Do(request)
	if err != nil {
		return err
	}
	defer answer.Body.Close()
	data, err := io.ReadAll(answer.Body)
	if err != nil {
		return err
	}
	if answer.StatusCode/100 == 2 {
		return json.Unmarshal(data, into)
	}
	return problem(answer, data)
}

// problem reads an error answer; a body that is not problem+json (a proxy's page) keeps its text.
func problem(answer *http.Response, data []byte) *APIError {
	seconds, err := strconv.Atoi(strings.TrimSpace(answer.Header.Get("Retry-After")))
	if err != nil || seconds < 1 {
		seconds = 1
	}
	apiErr := &APIError{}
	if !strings.HasPrefix(answer.Header.Get("Content-Type"), "application/problem+json") ||
		json.Unmarshal(data, apiErr) != nil {
		text := string(data)
		if len(text) > 200 {
			text = text[:200]
		}
		apiErr = &APIError{Detail: text}
	}
	apiErr.Status = answer.StatusCode
	apiErr.RetryAfter = time.Duration(seconds) * time.Second
	return apiErr
}
