import { describe, expect, it } from 'vitest';
import { Box, Code, Globe } from 'lucide-react';
import type { Template } from '@/api/types';
import { iconFor } from './template-picker';

const template = (name: string, image: string): Template => ({ name, title: name, description: '', image, port: 8080, cpu: '100m', memory: '32Mi' });

describe('iconFor', () => {
  it('reads whole words of the name and image', () => {
    // The stack's own templates: "google-samples" is not the Go language.
    expect(iconFor(template('hello', 'us-docker.pkg.dev/google-samples/containers/gke/hello-app:2.0'))).toBe(Globe);
    expect(iconFor(template('whoami', 'traefik/whoami:v1.10'))).toBe(Globe);
    expect(iconFor(template('python', 'python:3.12-alpine'))).toBe(Code);
    expect(iconFor(template('api', 'golang:1.23'))).toBe(Code);
    expect(iconFor(template('thing', 'registry.example/goodies:1'))).toBe(Box);
  });
});
