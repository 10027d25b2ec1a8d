import type { Challenge, Container, Template } from '@/api/types';

export const NOW = 1_764_000_000; // fixed server "now" (epoch seconds) for tests

export function makeContainer(over: Partial<Container> = {}): Container {
  return {
    id: 'c-0001',
    template: 'nginx',
    state: 'pending',
    phase: 'queued',
    position: null,
    eta_seconds: null,
    url: null,
    created_at: NOW - 7,
    updated_at: NOW - 1,
    started_at: null,
    expires_at: NOW + 3593,
    error: null,
    ...over,
  };
}

export const templates: Template[] = [
  { name: 'nginx', title: 'Static web server', description: 'nginx', image: 'nginx:1', port: 8080, cpu: '250m', memory: '128Mi' },
  { name: 'python', title: 'Python HTTP', description: 'python', image: 'python:3', port: 8000, cpu: '500m', memory: '256Mi' },
];

export function makeChallenge(over: Partial<Challenge> = {}): Challenge {
  return {
    challenge_id: 'ch-1',
    mode: 'slider',
    width: 320,
    height: 160,
    background: 'data:image/jpeg;base64,AAAA',
    piece: 'data:image/png;base64,AAAA',
    piece_size: 60,
    piece_y: 50,
    pow: { salt: 'salt', difficulty: 4 },
    expires_at: Date.now() / 1000 + 120,
    min_solve_seconds: 0,
    ...over,
  };
}
