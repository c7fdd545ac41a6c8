#include "cli/pprof_export.h"

#include <zlib.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "cli/folded.h"

namespace perfd::cli {
namespace {

namespace pp = perftools::profiles;

class Builder {
 public:
  explicit Builder(pp::Profile* out) : out_(out) { String(""); }  // index 0 must be ""

  int64_t String(const std::string& s) {
    auto [it, added] = strings_.emplace(s, static_cast<int64_t>(out_->string_table_size()));
    if (added) out_->add_string_table(s);
    return it->second;
  }

  uint64_t Function(const std::string& name, const std::string& file, int64_t first_line) {
    auto key = std::make_tuple(name, file, first_line);
    auto it = functions_.find(key);
    if (it != functions_.end()) return it->second;
    pp::Function* f = out_->add_function();
    f->set_id(static_cast<uint64_t>(out_->function_size()));
    f->set_name(String(name));
    f->set_system_name(f->name());
    f->set_filename(String(file));
    f->set_start_line(first_line);
    functions_.emplace(key, f->id());
    return f->id();
  }

  uint64_t Location(const std::string& name, const std::string& file, int64_t line,
                    int64_t first_line) {
    auto key = std::make_tuple(name, file, line, first_line);
    auto it = locations_.find(key);
    if (it != locations_.end()) return it->second;
    const uint64_t function = Function(name, file, first_line);
    pp::Location* l = out_->add_location();
    l->set_id(static_cast<uint64_t>(out_->location_size()));
    pp::Line* ln = l->add_line();
    ln->set_function_id(function);
    ln->set_line(line);
    locations_.emplace(key, l->id());
    return l->id();
  }

 private:
  pp::Profile* out_;
  std::unordered_map<std::string, int64_t> strings_;
  std::map<std::tuple<std::string, std::string, int64_t>, uint64_t> functions_;
  std::map<std::tuple<std::string, std::string, int64_t, int64_t>, uint64_t> locations_;
};

}  // namespace

pp::Profile ToPprof(const v1::GetProfileResponse& profile, const std::string& comment) {
  pp::Profile out;
  Builder b(&out);
  const int64_t period_ns = std::llround(profile.sample_period_seconds() * 1e9);

  pp::ValueType* samples = out.add_sample_type();
  samples->set_type(b.String("samples"));
  samples->set_unit(b.String("count"));
  pp::ValueType* cpu = out.add_sample_type();
  cpu->set_type(b.String("cpu"));
  cpu->set_unit(b.String("nanoseconds"));
  out.mutable_period_type()->set_type(cpu->type());
  out.mutable_period_type()->set_unit(cpu->unit());
  out.set_period(period_ns);
  out.set_default_sample_type(cpu->type());
  out.set_time_nanos(profile.start_unix_nanos());
  out.set_duration_nanos(profile.duration_nanos());
  if (!comment.empty()) out.add_comment(b.String(comment));

  // Response frame index -> location id, resolved lazily.
  std::vector<uint64_t> location_of(static_cast<size_t>(profile.frames_size()), 0);
  for (const v1::Stack& stack : profile.stacks()) {
    if (stack.samples() == 0) continue;
    pp::Sample* s = out.add_sample();
    for (uint32_t index : stack.frames()) {
      if (index >= location_of.size()) {
        s->add_location_id(b.Location("?", "", 0, 0));
        continue;
      }
      if (location_of[index] == 0) {
        const v1::Frame& f = profile.frames(static_cast<int>(index));
        location_of[index] = b.Location(f.function().empty() ? "?" : f.function(), f.file(),
                                        f.line(), f.first_line());
      }
      s->add_location_id(location_of[index]);
    }
    // Leaf first, so the outermost position is last.
    if (stack.truncated()) s->add_location_id(b.Location(kTruncatedFrame, "", 0, 0));
    s->add_value(static_cast<int64_t>(stack.samples()));
    s->add_value(static_cast<int64_t>(stack.samples()) * period_ns);
  }
  return out;
}

std::string Gzip(const std::string& data) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer rather than raw zlib.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw std::runtime_error("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const size_t written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("zlib: deflate failed");
  out.resize(written);
  return out;
}

}  // namespace perfd::cli
