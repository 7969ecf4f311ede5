// Everything Bay's handlers share; owned by main for the life of the process.
// Threading: handlers and services run on the single I/O executor.
#pragma once

#include <memory>
#include <string>

#include "bay/config/config.hpp"
#include "bay/domain/auth.hpp"
#include "bay/domain/capability_service.hpp"
#include "bay/domain/cargo_service.hpp"
#include "bay/domain/clock.hpp"
#include "bay/domain/gc_service.hpp"
#include "bay/domain/idempotency.hpp"
#include "bay/domain/sandbox_service.hpp"
#include "bay/domain/session_manager.hpp"
#include "bay/domain/skill_service.hpp"
#include "bay/drivers/driver.hpp"
#include "bay/legacy/legacy_service.hpp"
#include "bay/store/store.hpp"

namespace shipyard::bay {

struct BayApp {
  const BayConfig& config;
  const Clock& clock;
  Store& store;
  Driver& driver;
  SessionManager& sessions;
  SandboxService& sandboxes;
  CapabilityService& capabilities;
  const Authenticator& auth;
  CargoService& cargos;
  GcService& gc;
  IdempotencyService& idempotency;
  SkillService& skills;
  legacy::LegacyService& legacy;
};

}  // namespace shipyard::bay
