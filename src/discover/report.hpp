// SPDX-License-Identifier: Apache-2.0
// The JSON form of a discovery (credrotctl --json discover): access ids, paths, names; no secret.
#pragma once

#include "discover/proposal.hpp"

#include <boost/json/object.hpp>

namespace credrotd::discover {

// {"identity": {cloud, user_id, user_name, project_id, project_name, s3_endpoint},
//  "keys": [{access, owner: "identity"|"unknown", project_id, profile, not_proposed,
//            places: [{type, path, line, owner, profile, remote, bucket, url, bookmarks,
//                      units}]}],
//  "stale": [{access, project_id}], "skipped": [{path, why}],
//  "dropin": {path, profiles, text}}. Empty strings are null.
boost::json::object to_json(const Proposal& proposal, const IdentityView& identity,
                            const ProposalOptions& options);

} // namespace credrotd::discover
