import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A small client for jiangcheng's v1 API on the JDK alone ({@code java.net.http}, JDK 17), with
 * an example in {@code main}. Copy the class into your platform; there, read JSON with the
 * library you already use (Jackson, Gson) instead of the small reader at the end of this file,
 * which is here only so that the file runs on its own:
 *
 * <pre>
 * JC_URL=http://127.0.0.1:8080 JC_KEY=jc_… java JiangchengClient.java tour
 * JC_URL=… JC_KEY=… java JiangchengClient.java decide 91230200MA1B2C3D8T construction_bidding --times 3
 * </pre>
 *
 * It covers the bearer key (read from the environment, never written in code), connect and
 * request timeouts, retries of 429 and 503 answers that honour {@code Retry-After}, and
 * problem+json errors as a typed exception.
 */
public final class JiangchengClient {

    /** One field a 400 answer names, with what is wrong with it in plain words. */
    public record FieldError(String field, String message) {}

    /** An answer other than 2xx, read from its problem+json body. */
    public static final class ApiException extends Exception {
        private static final long serialVersionUID = 1L;
        public final int status;
        public final String code;
        public final String detail;
        public final transient List<FieldError> errors;
        public final long retryAfterSeconds;

        ApiException(int status, String code, String detail, List<FieldError> errors, long retryAfterSeconds) {
            super(status + " " + code + ": " + detail);
            this.status = status;
            this.code = code;
            this.detail = detail;
            this.errors = errors;
            this.retryAfterSeconds = retryAfterSeconds;
        }
    }

    private final URI base;
    private final String key;
    private final HttpClient http;
    private final Duration requestTimeout;
    private final int maxAttempts;
    private final long maxRetryWaitSeconds;

    /**
     * connectTimeout bounds the TCP (and TLS) connect, requestTimeout the wait for the answer's
     * head. A 429 or 503 is retried up to maxAttempts in all, after the whole seconds its
     * {@code Retry-After} asks plus up to half a second of jitter (so that refused clients do not
     * come back in step); one that asks for more than maxRetryWaitSeconds is thrown at once.
     */
    public JiangchengClient(URI base, String key, Duration connectTimeout, Duration requestTimeout,
            int maxAttempts, long maxRetryWaitSeconds) {
        this.base = base;
        this.key = key;
        this.requestTimeout = requestTimeout;
        this.maxAttempts = maxAttempts;
        this.maxRetryWaitSeconds = maxRetryWaitSeconds;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(connectTimeout)
                .build();
    }

    /** JC_URL (default http://127.0.0.1:8080) and JC_KEY from the environment, the defaults. */
    public static JiangchengClient fromEnvironment() {
        String url = System.getenv().getOrDefault("JC_URL", "http://127.0.0.1:8080");
        return new JiangchengClient(URI.create(url.endsWith("/") ? url : url + "/"), System.getenv("JC_KEY"),
                Duration.ofSeconds(2), Duration.ofSeconds(10), 4, 10);
    }

    /** One decision: allow, flag or block, with its reasons. */
    public Map<String, Object> decide(String subjectId, String matter) throws ApiException, IOException, InterruptedException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("subject", Map.of("id", subjectId));
        body.put("matter", matter);
        return call("POST", "v1/decide", body);
    }

    /** Screens many subjects (bidders) in one matter; results in the order asked. */
    public Map<String, Object> decideBatch(String matter, List<String> subjectIds) throws ApiException, IOException, InterruptedException {
        List<Object> subjects = new ArrayList<>();
        for (String id : subjectIds) {
            subjects.add(Map.of("id", id));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("matter", matter);
        body.put("subjects", subjects);
        return call("POST", "v1/decide/batch", body);
    }

    /** The subject's profile: its entries, their windows, states and disputes. */
    public Map<String, Object> subject(String subjectId) throws ApiException, IOException, InterruptedException {
        return call("GET", "v1/subjects/" + URLEncoder.encode(subjectId, StandardCharsets.UTF_8), null);
    }

    /**
     * Every call here only reads (a decision reads the lists and leaves a register record), and a
     * 429 or 503 is given before anything is done, so retrying cannot repeat an effect. Every
     * other 4xx is the request's own fault: the same request would fail again.
     */
    private Map<String, Object> call(String method, String path, Object body) throws ApiException, IOException, InterruptedException {
        for (int attempt = 1; ; attempt++) {
            try {
                return once(method, path, body);
            } catch (ApiException e) {
                boolean retried = e.status == 429 || e.status == 503;
                if (!retried || attempt >= maxAttempts || e.retryAfterSeconds > maxRetryWaitSeconds) {
                    throw e;
                }
                long waitMillis = e.retryAfterSeconds * 1000 + ThreadLocalRandom.current().nextLong(500);
                System.err.printf("jiangcheng_client: retry %d/%d after %d %s: waiting %.1f s%n",
                        attempt, maxAttempts - 1, e.status, e.code, waitMillis / 1000.0);
                Thread.sleep(waitMillis);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> once(String method, String path, Object body) throws ApiException, IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path))
                .timeout(requestTimeout)
                .header("Accept", "application/json")
                .header("Accept-Language", "zh-CN,en;q=0.8");
        if (key != null && !key.isEmpty()) {
            request.header("Authorization", "Bearer " + key);
        }
        if (body == null) {
            request.GET();
        } else {
            request.header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofString(Json.write(body), StandardCharsets.UTF_8));
        }
        HttpResponse<String> answer = http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (answer.statusCode() / 100 == 2) {
            return (Map<String, Object>) Json.read(answer.body());
        }
        throw problem(answer);
    }

    /** Reads an error answer; a body that is not problem+json (a proxy's page) keeps its text. */
    @SuppressWarnings("unchecked")
    private static ApiException problem(HttpResponse<String> answer) {
        long retryAfter = 1;
        try {
            retryAfter = Math.max(1, Long.parseLong(answer.headers().firstValue("Retry-After").orElse("1").trim()));
        } catch (NumberFormatException e) {
            // An HTTP date or garbage: wait the least, one second.
        }
        String type = answer.headers().firstValue("Content-Type").orElse("");
        if (type.startsWith("application/problem+json")) {
            try {
                Map<String, Object> problem = (Map<String, Object>) Json.read(answer.body());
                List<FieldError> errors = new ArrayList<>();
                Object listed = problem.get("errors");
                if (listed instanceof List<?> list) {
                    for (Object item : list) {
                        Map<String, Object> error = (Map<String, Object>) item;
                        errors.add(new FieldError((String) error.get("field"), (String) error.get("message")));
                    }
                }
                return new ApiException(answer.statusCode(), (String) problem.get("code"),
                        (String) problem.get("detail"), errors, retryAfter);
            } catch (IllegalArgumentException | ClassCastException e) {
                // Not the problem shape after all: keep the text below.
            }
        }
        String text = answer.body().length() > 200 ? answer.body().substring(0, 200) : answer.body();
        return new ApiException(answer.statusCode(), null, text, List.of(), retryAfter);
    }

    // ---- the example -------------------------------------------------------------------------

    /** The demo lists' subjects: a dishonest judgement debtor, a wage-arrears firm, one on no list, an ID one character short. */
    private static final String LISTED = "91230200MA1B2C3D8T";
    private static final List<String> BIDDERS = List.of("912302061276543275", "91230200MA1B2C3D8U", "9123020MA1B2C3D8T");
    private static final String MATTER = "construction_bidding";

    public static void main(String[] args) throws Exception {
        if (args.length == 0 || !(args[0].equals("tour") || (args[0].equals("decide") && (args.length == 3 || args.length == 5)))) {
            System.err.println("usage: JiangchengClient tour | decide SUBJECT_ID MATTER [--times N]");
            System.exit(2);
        }
        JiangchengClient client = fromEnvironment();
        try {
            if (args[0].equals("tour")) {
                printDecision(client, LISTED, MATTER);
                printBatch(client, MATTER, BIDDERS);
                printProfile(client, LISTED);
                printDecision(client, BIDDERS.get(2), MATTER);
            } else {
                int times = args.length == 5 && args[3].equals("--times") ? Integer.parseInt(args[4]) : 1;
                for (int i = 0; i < times; i++) {
                    if (!printDecision(client, args[1], args[2])) {
                        System.exit(1);
                    }
                }
            }
        } catch (ApiException e) {
            System.err.println("jiangcheng answered " + e.getMessage());
            System.exit(1);
        } catch (IOException e) {
            System.err.println("could not reach jiangcheng: " + e);
            System.exit(1);
        }
    }

    @SuppressWarnings("unchecked")
    private static boolean printDecision(JiangchengClient client, String subjectId, String matter) throws IOException, InterruptedException {
        Map<String, Object> decision;
        try {
            decision = client.decide(subjectId, matter);
        } catch (ApiException e) {
            System.out.printf("decide %s in %s: error %d %s%n", subjectId, matter, e.status, e.code);
            for (FieldError error : e.errors) {
                System.out.printf("  field %s: %s%n", error.field(), error.message());
            }
            return false;
        }
        System.out.printf("decide %s in %s: %s (%s)%n", subjectId, matter, decision.get("decision"), decision.get("decision_label"));
        for (Object item : (List<Object>) decision.get("reasons")) {
            Map<String, Object> reason = (Map<String, Object>) item;
            System.out.printf("  reason %s %s (list %s, entry %s)%n", reason.get("effect"), reason.get("measure"),
                    reason.get("list"), reason.get("entry_id"));
        }
        return true;
    }

    @SuppressWarnings("unchecked")
    private static void printBatch(JiangchengClient client, String matter, List<String> subjectIds) throws ApiException, IOException, InterruptedException {
        Map<String, Object> answer = client.decideBatch(matter, subjectIds);
        Map<String, Object> summary = (Map<String, Object>) answer.get("summary");
        System.out.printf("batch %s: %d bidders, block %s, flag %s, allow %s, invalid %s%n", matter, subjectIds.size(),
                summary.get("block"), summary.get("flag"), summary.get("allow"), summary.get("invalid"));
        List<Object> results = (List<Object>) answer.get("results");
        for (int i = 0; i < results.size(); i++) {
            Map<String, Object> result = (Map<String, Object>) results.get(i);
            if (result.containsKey("error")) {
                Map<String, Object> error = (Map<String, Object>) result.get("error");
                System.out.printf("  [%d] %s: invalid %s: %s%n", i, subjectIds.get(i), error.get("code"), error.get("detail"));
            } else {
                List<String> measures = new ArrayList<>();
                for (Object reason : (List<Object>) result.get("reasons")) {
                    measures.add((String) ((Map<String, Object>) reason).get("measure"));
                }
                System.out.printf("  [%d] %s: %s%s%n", i, subjectIds.get(i), result.get("decision"),
                        measures.isEmpty() ? "" : " (" + String.join(", ", measures) + ")");
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static void printProfile(JiangchengClient client, String subjectId) throws ApiException, IOException, InterruptedException {
        Map<String, Object> profile = client.subject(subjectId);
        Map<String, Object> subject = (Map<String, Object>) profile.get("subject");
        List<Object> entries = (List<Object>) profile.get("entries");
        System.out.printf("profile %s (%s %s): %d entries%n", subject.get("id"), subject.get("kind"), subject.get("kind_label"), entries.size());
        for (Object item : entries) {
            Map<String, Object> entry = (Map<String, Object>) item;
            Object until = entry.get("valid_until");
            System.out.printf("  %s %s %s %s..%s dispute %s%n", entry.get("entry_id"), entry.get("list"), entry.get("state"),
                    entry.get("listed_on"), until == null ? "" : until, entry.get("dispute"));
        }
    }

    // ---- just enough JSON for this file to run alone --------------------------------------------

    /** JSON into Map, List, String, Double or Long, Boolean and null, and back. */
    static final class Json {
        private final String text;
        private int at;

        private Json(String text) {
            this.text = text;
        }

        static Object read(String text) {
            Json json = new Json(text);
            Object value = json.value();
            json.space();
            if (json.at != text.length()) {
                throw json.fail("text after the value");
            }
            return value;
        }

        static String write(Object value) {
            StringBuilder out = new StringBuilder();
            write(value, out);
            return out.toString();
        }

        private static void write(Object value, StringBuilder out) {
            if (value instanceof Map<?, ?> map) {
                out.append('{');
                String comma = "";
                for (Map.Entry<?, ?> member : map.entrySet()) {
                    out.append(comma);
                    write(member.getKey().toString(), out);
                    out.append(':');
                    write(member.getValue(), out);
                    comma = ",";
                }
                out.append('}');
            } else if (value instanceof List<?> list) {
                out.append('[');
                String comma = "";
                for (Object item : list) {
                    out.append(comma);
                    write(item, out);
                    comma = ",";
                }
                out.append(']');
            } else if (value instanceof String string) {
                out.append('"');
                for (char c : string.toCharArray()) {
                    switch (c) {
                        case '"' -> out.append("\\\"");
                        case '\\' -> out.append("\\\\");
                        default -> {
                            if (c < 0x20) {
                                out.append(String.format("\\u%04x", (int) c));
                            } else {
                                out.append(c);
                            }
                        }
                    }
                }
                out.append('"');
            } else {
                out.append(value);
            }
        }

        private Object value() {
            space();
            if (at >= text.length()) {
                throw fail("a value is missing");
            }
            char c = text.charAt(at);
            if (c == '{') {
                Map<String, Object> map = new LinkedHashMap<>();
                at++;
                space();
                if (peek('}')) {
                    return map;
                }
                do {
                    space();
                    String name = string();
                    space();
                    expect(':');
                    map.put(name, value());
                    space();
                } while (peek(','));
                expect('}');
                return map;
            }
            if (c == '[') {
                List<Object> list = new ArrayList<>();
                at++;
                space();
                if (peek(']')) {
                    return list;
                }
                do {
                    list.add(value());
                    space();
                } while (peek(','));
                expect(']');
                return list;
            }
            if (c == '"') {
                return string();
            }
            for (String word : new String[] {"true", "false", "null"}) {
                if (text.startsWith(word, at)) {
                    at += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word);
                }
            }
            int start = at;
            while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) {
                at++;
            }
            String number = text.substring(start, at);
            try {
                return number.matches("-?\\d+") ? (Object) Long.valueOf(number) : (Object) Double.valueOf(number);
            } catch (NumberFormatException e) {
                throw fail("not a JSON value");
            }
        }

        private String string() {
            expect('"');
            StringBuilder out = new StringBuilder();
            while (true) {
                if (at >= text.length()) {
                    throw fail("a string is not closed");
                }
                char c = text.charAt(at++);
                if (c == '"') {
                    return out.toString();
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (at >= text.length()) {
                    throw fail("a string is not closed");
                }
                char escaped = text.charAt(at++);
                switch (escaped) {
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'n' -> out.append('\n');
                    case 'r' -> out.append('\r');
                    case 't' -> out.append('\t');
                    case 'u' -> {
                        if (at + 4 > text.length()) {
                            throw fail("a \\u escape is cut short");
                        }
                        out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                        at += 4;
                    }
                    default -> out.append(escaped);
                }
            }
        }

        private void space() {
            while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
                at++;
            }
        }

        private boolean peek(char c) {
            if (at < text.length() && text.charAt(at) == c) {
                at++;
                return true;
            }
            return false;
        }

        private void expect(char c) {
            if (!peek(c)) {
                throw fail("expected '" + c + "'");
            }
        }

        private IllegalArgumentException fail(String what) {
            return new IllegalArgumentException("not valid JSON: " + what + " at character " + at);
        }
    }
}
