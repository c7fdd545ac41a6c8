#include "daemon/kubernetes/api_client.h"

#include <curl/curl.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

namespace perfd::k8s {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// "" when the file cannot be read: the request then goes without a token
// and the server's 401 says so.
std::string ReadToken(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  return t;
}

struct Transfer {
  const std::atomic<bool>* stop = nullptr;
  long status = 0;
  CURL* curl = nullptr;
  // Get
  std::string* body = nullptr;
  size_t max_body = 0;
  // Stream
  const std::function<bool(std::string_view)>* on_line = nullptr;
  size_t max_line = 0;
  std::string pending;
  bool aborted_by_reader = false;
  std::string error;
};

size_t OnData(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (t->status == 0) curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
  if (t->body) {
    if (t->body->size() + len > t->max_body) {
      t->error = "response larger than " + std::to_string(t->max_body) + " bytes";
      return 0;
    }
    t->body->append(data, len);
    return len;
  }
  if (t->status < 200 || t->status > 299) return len;  // an error body: not events
  t->pending.append(data, len);
  size_t start = 0;
  for (size_t nl; (nl = t->pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string_view line(t->pending.data() + start, nl - start);
    if (!line.empty() && !(*t->on_line)(line)) {
      t->aborted_by_reader = true;
      return 0;
    }
  }
  t->pending.erase(0, start);
  if (t->pending.size() > t->max_line) {
    t->error = "watch event longer than " + std::to_string(t->max_line) + " bytes";
    return 0;
  }
  return len;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return (t->stop && t->stop->load()) ? 1 : 0;
}

long Run(const ApiEndpoint& ep, const std::string& path, long timeout_s, Transfer& t,
         std::string* error) {
  GlobalInit();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    *error = "curl_easy_init failed";
    return 0;
  }
  t.curl = curl.get();
  CURL* c = curl.get();
  const std::string url = ep.server + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
  if (!ep.ca_path.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ep.ca_path.c_str());
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  {
    std::string token = ReadToken(ep.token_path);
    if (!token.empty()) {
      std::string h = "Authorization: Bearer " + token;
      headers = curl_slist_append(headers, h.c_str());
      // curl copied it; do not leave the token lying in freed heap memory.
      std::fill(h.begin(), h.end(), '\0');
      std::fill(token.begin(), token.end(), '\0');
    }
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK && !t.aborted_by_reader) {
    *error = !t.error.empty() ? t.error : curl_easy_strerror(rc);
    // Body-size/line-length errors still had a response; transport
    // errors did not.
    if (t.error.empty() && rc != CURLE_OPERATION_TIMEDOUT) return 0;
  }
  return status;
}

}  // namespace

std::string InClusterServer() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) return "";
  const std::string h = host;
  // An IPv6 service address needs brackets in a URL.
  return "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
}

long ApiClient::Get(const std::string& path, size_t max_body, std::string* body,
                    std::string* error) const {
  Transfer t;
  t.stop = stop_;
  t.body = body;
  t.max_body = max_body;
  return Run(endpoint_, path, 60, t, error);
}

long ApiClient::Stream(const std::string& path, size_t max_line,
                       const std::function<bool(std::string_view)>& on_line, long timeout_s,
                       std::string* error) const {
  Transfer t;
  t.stop = stop_;
  t.on_line = &on_line;
  t.max_line = max_line;
  return Run(endpoint_, path, timeout_s, t, error);
}

}  // namespace perfd::k8s
