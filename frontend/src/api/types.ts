/**
 * Shapes of the Sprout HTTP API, named for the page. They come from `schema.d.ts`, which
 * openapi-typescript generates from shared/openapi.json (`npm run api-types`; `npm test` fails
 * when it is stale). Times are epoch seconds on the server's clock.
 */
import type { components } from './schema';

type Schemas = components['schemas'];

export type Container = Schemas['Container'];
export type ContainerState = Container['state'];
export type PendingPhase = NonNullable<Container['phase']>;
export type Template = Schemas['TemplateInfo'];
export type TemplatesResponse = Schemas['TemplateList'];
export type Challenge = Schemas['CaptchaChallenge'];
export type CaptchaMode = Challenge['mode'];
export type TrackPoint = Schemas['TrackPoint'];
export type VerifyRequest = Schemas['CaptchaVerifyRequest'];
export type InputKind = NonNullable<VerifyRequest['input']>;
export type PassToken = Schemas['CaptchaPass'];
export type RateLimitPolicy = Schemas['Policy'];
export type RateLimitResponse = Schemas['RateLimitStatus'];
export type ErrorBody = Schemas['ErrorBody'];
export type OtherContainer = Schemas['OtherContainer'];
