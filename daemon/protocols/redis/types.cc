#include "daemon/protocols/redis/types.h"

namespace perfd::protocols::redis {

const char* ReplyTypeName(ReplyType t) {
  switch (t) {
    case ReplyType::kNone:
      return "none";
    case ReplyType::kSimpleString:
      return "simple";
    case ReplyType::kError:
      return "error";
    case ReplyType::kInteger:
      return "integer";
    case ReplyType::kBulkString:
      return "bulk";
    case ReplyType::kNullBulk:
      return "null_bulk";
    case ReplyType::kArray:
      return "array";
    case ReplyType::kNullArray:
      return "null_array";
    case ReplyType::kMap:
      return "map";
    case ReplyType::kSet:
      return "set";
    case ReplyType::kPush:
      return "push";
    case ReplyType::kDouble:
      return "double";
    case ReplyType::kBoolean:
      return "boolean";
    case ReplyType::kBigNumber:
      return "big_number";
    case ReplyType::kVerbatim:
      return "verbatim";
    case ReplyType::kNull:
      return "null";
    case ReplyType::kBlobError:
      return "blob_error";
  }
  return "?";
}

SizeClass SizeClassOf(uint64_t bytes) {
  if (bytes == 0) return SizeClass::kUnknown;
  if (bytes < 64) return SizeClass::kTiny;
  if (bytes < 1024) return SizeClass::kSmall;
  if (bytes < 64 * 1024) return SizeClass::kMedium;
  if (bytes < 1024 * 1024) return SizeClass::kLarge;
  return SizeClass::kHuge;
}

RedisStats& RedisStats::operator+=(const RedisStats& o) {
  commands += o.commands;
  inline_commands += o.inline_commands;
  records += o.records;
  replies += o.replies;
  pubsub_messages += o.pubsub_messages;
  pushes += o.pushes;
  extra_confirmations += o.extra_confirmations;
  unmatched_replies += o.unmatched_replies;
  unpaired_commands += o.unpaired_commands;
  unpaired_replies += o.unpaired_replies;
  egress_desyncs += o.egress_desyncs;
  ingress_desyncs += o.ingress_desyncs;
  resyncs += o.resyncs;
  bytes_skipped += o.bytes_skipped;
  queue_overflows += o.queue_overflows;
  refused_names += o.refused_names;
  encrypted += o.encrypted;
  closed_pending += o.closed_pending;
  return *this;
}

}  // namespace perfd::protocols::redis
