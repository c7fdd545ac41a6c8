#include "daemon/client_self_stats.h"

#include <map>
#include <string>
#include <utility>

namespace perfd {

void AddClientStats(const std::array<uint64_t, PERFD_CNT_MAX>& k,
                    const protocols::ClientTracker& tracker, const DbRequestJoin& join,
                    uint64_t events_dropped, uint64_t seeded, std::vector<SelfSample>* out) {
  const SelfSampleSink add{out};
  const auto t = tracker.stats();
  add("perfd_client_connections", tracker.connections());
  add("perfd_client_connects_total", k[PERFD_CNT_CLIENT_CONNECTS]);
  add("perfd_client_connections_seeded_total", seeded);
  add("perfd_client_transfers_cut_total", k[PERFD_CNT_CLIENT_CUT]);
  add("perfd_client_bytes_uncaptured_total", t.bytes_uncaptured);
  add("perfd_client_events_total", t.events);
  add("perfd_client_events_dropped_total", events_dropped);
  for (uint8_t p = PERFD_PROTO_PGSQL; p <= PERFD_PROTO_TLS; ++p)
    add("perfd_client_connections_classified_total", t.conns_by_protocol[p],
        {{"protocol", protocols::ClientProtocolName(p)}});
  add("perfd_client_untracked_total", k[PERFD_CNT_CLIENT_OTHER]);
  add("perfd_client_replies_before_request_total", t.ingress_before_egress);
  add("perfd_client_connections_evicted_total", t.evicted_idle);
  // Whose request each client write was: a write queued by a uvloop task,
  // or the writing thread's own context.
  add("perfd_client_writes_owned_total", k[PERFD_CNT_CLIENT_QUEUED_OWNER],
      {{"source", "uvloop_queue"}});
  add("perfd_client_writes_owned_total", k[PERFD_CNT_CLIENT_CTX_OWNER], {{"source", "context"}});
  add("perfd_db_call_sites_total", t.sites, {{"result", "captured"}});
  add("perfd_db_call_sites_total", t.sites_unused, {{"result", "unused"}});
  add("perfd_db_call_sites_total", t.calls_with_site, {{"result", "calls_with_site"}});
  const auto j = join.stats();
  add("perfd_db_calls_total", j.joined, {{"join", "request"}});
  add("perfd_db_calls_total", j.no_owner, {{"join", "no_owner"}});
  add("perfd_db_calls_total", j.owner_idle, {{"join", "owner_idle"}});
  add("perfd_db_calls_total", j.no_service, {{"join", "no_service"}});
  add("perfd_db_calls_total", j.calls_over_cap, {{"join", "over_cap"}});
  const auto& pg = t.pgsql;
  const std::pair<const char*, uint64_t> pg_kinds[] = {
      {"bytes_uncaptured", pg.bytes_uncaptured},
      {"desyncs", pg.desyncs},
      {"resyncs", pg.resyncs},
      {"bytes_unsynced", pg.bytes_unsynced},
      {"text_truncated", pg.text_truncated},
      {"prepared_evicted", pg.prepared_evicted},
      {"prepared_unresolved", pg.prepared_unresolved},
      {"portals_refused", pg.portals_refused},
      {"pending_overflows", pg.pending_overflows},
      {"unpaired_responses", pg.unpaired_responses},
      {"realigned", pg.realigned},
      {"inferred_executes", pg.inferred_executes},
      {"skipped_after_error", pg.skipped_after_error},
      {"unanswered", pg.unanswered},
      {"encrypted", pg.encrypted},
      {"records", pg.records},
  };
  for (const auto& [kind, v] : pg_kinds) add("perfd_pgsql_decoder_total", v, {{"kind", kind}});
  const auto& rd = t.redis;
  const std::pair<const char*, uint64_t> rd_kinds[] = {
      {"commands", rd.commands},
      {"records", rd.records},
      {"pubsub_messages", rd.pubsub_messages},
      {"pushes", rd.pushes},
      {"unmatched_replies", rd.unmatched_replies},
      {"unpaired_commands", rd.unpaired_commands},
      {"unpaired_replies", rd.unpaired_replies},
      {"egress_desyncs", rd.egress_desyncs},
      {"ingress_desyncs", rd.ingress_desyncs},
      {"resyncs", rd.resyncs},
      {"bytes_skipped", rd.bytes_skipped},
      {"queue_overflows", rd.queue_overflows},
      {"refused_names", rd.refused_names},
      {"encrypted", rd.encrypted},
      {"closed_pending", rd.closed_pending},
  };
  for (const auto& [kind, v] : rd_kinds) add("perfd_redis_decoder_total", v, {{"kind", kind}});
}

}  // namespace perfd
