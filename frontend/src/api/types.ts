/** Shapes of the Sprout HTTP API (DESIGN §4). Times are epoch seconds (server clock). */

export type ContainerState = 'pending' | 'running' | 'failed' | 'deleting' | 'deleted';
export type PendingPhase = 'queued' | 'creating' | 'starting';

export interface Container {
  id: string;
  template: string;
  state: ContainerState;
  phase: PendingPhase | null;
  url: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  expires_at: number;
  error: string | null;
}

export interface Template {
  name: string;
  title: string;
  description: string;
  image: string;
  port: number;
  cpu: string;
  memory: string;
}

export interface TemplatesResponse {
  templates: Template[];
  /** seconds a container lives before it is deleted */
  lifetime?: number;
  cluster?: { simulated: boolean };
}

export type CaptchaMode = 'slider' | 'pow';

export interface Challenge {
  challenge_id: string;
  mode: CaptchaMode;
  width: number;
  height: number;
  background: string | null;
  piece: string | null;
  piece_size: number | null;
  piece_y: number | null;
  pow: { salt: string; difficulty: number };
  expires_at: number;
  /** Answers sent sooner than this after the challenge was issued are refused (as too fast). */
  min_solve_seconds: number;
}

export interface TrackPoint {
  x: number;
  y: number;
  t: number;
}

export type InputKind = 'pointer' | 'keyboard';

export interface VerifyRequest {
  challenge_id: string;
  x: number;
  track: TrackPoint[];
  input: InputKind;
  pow_nonce: string;
}

export interface PassToken {
  token: string;
  expires_at: number;
}

export type PolicyName = 'creates_per_address' | 'live_per_address' | 'live_per_owner' | 'challenges_per_address';

export interface RateLimitPolicy {
  name: PolicyName | string;
  limit: number;
  remaining: number;
  /** seconds until reset */
  reset: number;
  window: number;
  scope: 'address' | 'owner' | 'global';
  description: string;
}

export interface RateLimitResponse {
  policies: RateLimitPolicy[];
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}
