/** The one error type of the API: turned into `{ error, code, message, details? }` by the app's error handler. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 410 | 413 | 429 | 500 | 503,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApiError';
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { error: true, code: this.code, message: this.message };
    if (this.details && Object.keys(this.details).length > 0) body.details = this.details;
    return body;
  }
}

export interface ErrorBody {
  error: true;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** Every VALIDATION_ERROR lists its issues (§1.1); a rule that is not about one field has the path "". */
export const validationError = (message: string, details?: Record<string, unknown>) =>
  new ApiError(400, 'VALIDATION_ERROR', message, { issues: [{ path: '', message }], ...details });

export const projectNotFound = (projectId: string) => new ApiError(404, 'PROJECT_NOT_FOUND', 'Project not found', { projectId });

export const taskNotFound = (taskId: string, message = 'Task not found') => new ApiError(404, 'TASK_NOT_FOUND', message, { taskId });

export const sessionNotFound = (sessionId: string) => new ApiError(404, 'SESSION_NOT_FOUND', 'Session not found', { sessionId });

export const notFound = (message: string, details?: Record<string, unknown>) => new ApiError(404, 'NOT_FOUND', message, details);
